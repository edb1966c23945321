from django.contrib import admin
from django.http import HttpResponse, JsonResponse
from django.conf import settings
from django.urls import path


def home(request):
    return HttpResponse(f"Hello from the Django example, version {settings.VERSION}\n",
                        content_type="text/plain")


def health(request):
    return JsonResponse({"status": "ok", "version": settings.VERSION})


urlpatterns = [
    path("", home),
    path("health/", health),
    path("admin/", admin.site.urls),
]
