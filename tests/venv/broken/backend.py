"""An in-tree PEP 517 backend that fails the way a C extension without its headers does."""


def _fail(*_args, **_kwargs):
    raise SystemExit("pywebbroken: fatal error: pywebbroken.h: No such file or directory")


get_requires_for_build_wheel = _fail
prepare_metadata_for_build_wheel = _fail
build_wheel = _fail
