"""A tiny project that pyweb.deploy's venv scenario installs from its folder."""


def greet() -> str:
    return "hello from pywebhello"
