# Copyright: pyweb.deploy developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""systemd EnvironmentFile= syntax: the collection's one parser and its writer.

systemd itself reads every environment file the collection runs code with (the server's unit
and the transient units of pyweb.deploy.app_command both name it in EnvironmentFile=), so this
parser is the model of what systemd does, for the places Python must read or write such a file:
``render`` quotes values so that systemd reads back exactly the dict it was given, and the unit
tests hold ``parse`` and ``render`` to systemd's rules (systemd's src/basic/env-file.c):

- a line is KEY=VALUE; blanks around KEY and before VALUE are ignored; a line starting with
  ``#`` or ``;`` is a comment; a line without ``=`` or with an invalid name is ignored;
- unquoted, a backslash takes the next character literally (a line end: continuation) and
  trailing blanks are dropped; ``#`` inside a value is part of it;
- in ``'...'`` everything is literal; in ``"..."`` a backslash unescapes only ``" \\ ` $``
  (and joins lines), any other backslash stays; quoted parts may span lines;
- quoted and unquoted parts of one value are joined; CR ends a line like LF.
"""
from __future__ import annotations

import re

_NEWLINE = "\n\r"
_BLANK = " \t\n\r"
_DQ_ESCAPES = '"\\`$'
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def valid_name(name: str) -> bool:
    """A variable name systemd and a POSIX shell both accept."""
    return bool(_NAME.match(name))


def parse(text: str) -> dict:
    """The variables systemd sets from an EnvironmentFile= with this text, in file order."""
    env: dict = {}
    state = "pre_key"
    key: list = []
    value: list = []
    last_value_blank = None  # index in value after which only unquoted blanks came

    def finish():
        name = "".join(key).rstrip(_BLANK)
        if valid_name(name):
            val = value if last_value_blank is None else value[:last_value_blank]
            env[name] = "".join(val)

    for c in text:
        if state == "pre_key":
            if c in "#;":
                state = "comment"
            elif c not in _BLANK:
                key, value, last_value_blank = [c], [], None
                state = "key"
        elif state == "key":
            if c in _NEWLINE:
                state = "pre_key"  # no '=': ignored
            elif c == "=":
                state = "pre_value"
            else:
                key.append(c)
        elif state == "pre_value":
            if c in _NEWLINE:
                finish()
                state = "pre_key"
            elif c == "'":
                state = "single"
            elif c == '"':
                state = "double"
            elif c == "\\":
                state = "value_escape"
            elif c not in _BLANK:
                value.append(c)
                state = "value"
        elif state == "value":
            if c in _NEWLINE:
                finish()
                state = "pre_key"
            elif c == "\\":
                state = "value_escape"
                last_value_blank = None
            else:
                if c in _BLANK:
                    if last_value_blank is None:
                        last_value_blank = len(value)
                else:
                    last_value_blank = None
                value.append(c)
        elif state == "value_escape":
            state = "value"
            if c not in _NEWLINE:
                value.append(c)
        elif state == "single":
            if c == "'":
                state = "pre_value"
            else:
                value.append(c)
        elif state == "double":
            if c == '"':
                state = "pre_value"
            elif c == "\\":
                state = "double_escape"
            else:
                value.append(c)
        elif state == "double_escape":
            state = "double"
            if c in _DQ_ESCAPES:
                value.append(c)
            elif c not in _NEWLINE:
                value.extend(("\\", c))
        elif state == "comment":
            if c == "\\":
                state = "comment_escape"
            elif c in _NEWLINE:
                state = "pre_key"
        elif state == "comment_escape":
            state = "comment"
    if state in ("pre_value", "value", "value_escape", "single", "double", "double_escape"):
        finish()
    return env


def quote(value: str) -> str:
    """VALUE written so that systemd reads back exactly ``value``."""
    if "\0" in value:
        raise ValueError("a value cannot hold a NUL character")
    return '"' + "".join("\\" + c if c in _DQ_ESCAPES else c for c in value) + '"'


def render(env: dict) -> str:
    """An environment file that sets exactly ``env``; ValueError names a bad variable."""
    lines = []
    for name, value in env.items():
        name = str(name)
        if not valid_name(name):
            raise ValueError(f"{name!r} is not a valid environment variable name")
        try:
            lines.append(f"{name}={quote(str(value))}\n")
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return "".join(lines)
