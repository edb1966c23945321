"""Settings laid out as `wagtail start` writes them: STATIC_ROOT and MEDIA_ROOT are folders of the
project (BASE_DIR / "static", BASE_DIR / "media"), not the DJANGO_STATIC_ROOT / DJANGO_MEDIA_ROOT
the deploy provides. The pyweb_apps entry says static_dir: static and shared_paths: [media]."""
import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent
BASE_DIR = PROJECT_DIR.parent

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost").split(",")

INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.staticfiles"]
ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": Path(os.environ.get("DJANGO_DATA_DIR", BASE_DIR)) / "db.sqlite3"}}
USE_TZ = True

STATICFILES_DIRS = [PROJECT_DIR / "static"]
STATIC_ROOT = BASE_DIR / "static"
STATIC_URL = "/static/"
MEDIA_ROOT = BASE_DIR / "media"
MEDIA_URL = "/media/"
