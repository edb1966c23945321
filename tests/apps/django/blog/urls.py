from django.contrib import admin
from django.http import HttpResponse, JsonResponse
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from notes.models import Note


def home(request):
    return HttpResponse(f"Hello from the Django example, version {settings.VERSION}\n",
                        content_type="text/plain")


def health(request):
    return JsonResponse({"status": "ok", "version": settings.VERSION, "database": connection.vendor})


@csrf_exempt
def notes(request):
    """POST text=... adds a note; GET lists them (data written through the app, for the tests)."""
    if request.method == "POST":
        Note.objects.create(text=request.POST["text"])
    cache.set("notes-read", cache.get("notes-read", 0) + 1)
    return JsonResponse({"notes": list(Note.objects.order_by("id").values_list("text", flat=True)),
                         "reads": cache.get("notes-read")})


urlpatterns = [
    path("", home),
    path("health/", health),
    path("notes/", notes),
    path("admin/", admin.site.urls),
]
