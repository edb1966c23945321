"""plugins/module_utils/envfile.py: systemd's EnvironmentFile= syntax, parsed and written.

The expected values are what systemd 252 (Debian 12) and 257 (Debian 13) set from the same text
(tried with systemd-run -p EnvironmentFile= ... on both: every case agreed)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
from ansible_collections.pyweb.deploy.plugins.module_utils import envfile  # noqa: E402

CASES = [
    ("A=plain\n", {"A": "plain"}),
    ('B="double \\" quote \\\\ back \\` tick \\$ dollar \\n kept"\n',
     {"B": 'double " quote \\ back ` tick $ dollar \\n kept'}),
    ("C='single \\ \" $ raw'\n", {"C": 'single \\ " $ raw'}),
    ("D=\n", {"D": ""}),
    ('E=""\n', {"E": ""}),
    ("F=a=b=c\n", {"F": "a=b=c"}),
    ("G=value # not a comment\n", {"G": "value # not a comment"}),
    ("# comment=1\n; other=2\n", {}),
    ("H=crlf\r\n", {"H": "crlf"}),
    ("I=  lead and trail   \n", {"I": "lead and trail"}),
    ("  J  =  spaced\n", {"J": "spaced"}),
    ('K="multi\nline"\n', {"K": "multi\nline"}),
    ("L=cont\\\ninued\n", {"L": "continued"}),
    ("M=\"a\"'b'c\n", {"M": "abc"}),
    ("N=esc\\ aped\\\\ \n", {"N": "esc aped\\"}),
    ("noequals\n", {}),
    ("1BAD=x\n", {}),
    ("O=last-no-newline", {"O": "last-no-newline"}),
    ('P="cr\rin"\n', {"P": "cr\rin"}),
    ('Q="unterminated\n', {"Q": "unterminated\n"}),
]


@pytest.mark.parametrize("text, expected", CASES, ids=[c[0][:12] for c in CASES])
def test_parse_as_systemd_does(text, expected):
    assert envfile.parse(text) == expected


def test_later_assignments_win_and_order_is_kept():
    assert list(envfile.parse("B=1\nA=2\nB=3\n").items()) == [("B", "3"), ("A", "2")]


def test_a_line_without_equals_does_not_swallow_the_next():
    assert envfile.parse("junk line\nA=1\n") == {"A": "1"}


def test_a_comment_line_ending_in_a_backslash_continues_the_comment():
    assert envfile.parse("# c \\\nA=1\nB=2\n") == {"B": "2"}


ODD = {
    "PASSWORD": 'p@ss "w0rd" \\ `x` $HOME ${HOME} #not-comment ;x',
    "EMPTY": "",
    "SPACES": "  lead and trail  ",
    "LINES": "one\ntwo\r\nthree",
    "EQUALS": "a=b==c",
    "QUOTE1": "it's",
    "UNICODE": "caf\u00e9 \u2603",
}


def test_render_then_parse_gives_back_every_value():
    assert envfile.parse(envfile.render(ODD)) == ODD


@pytest.mark.parametrize("name", ["1X", "A-B", "A B", "", "A=B"])
def test_render_refuses_a_bad_name(name):
    with pytest.raises(ValueError, match="not a valid environment variable name"):
        envfile.render({name: "x"})


def test_render_refuses_nul():
    with pytest.raises(ValueError, match="NUL"):
        envfile.render({"A": "x\0y"})
