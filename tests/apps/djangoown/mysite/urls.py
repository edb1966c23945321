from django.http import JsonResponse
from django.urls import path


def health(request):
    return JsonResponse({"status": "ok", "format": "django-own-static"})


urlpatterns = [path("health", health), path("", health)]
