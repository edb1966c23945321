# The WSGI file PythonAnywhere writes for a Flask app (its "WSGI configuration file"): it puts the
# project on sys.path and exposes `application`. On PythonAnywhere project_home is
# /home/<user>/mysite; here it is found from this file, so the repository runs unchanged anywhere.
import os
import sys

project_home = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "mysite")
if project_home not in sys.path:
    sys.path = [project_home] + sys.path

from flask_app import app as application  # noqa: E402,F401  # pylint: disable=unused-import
