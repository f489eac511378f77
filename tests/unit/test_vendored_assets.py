"""Bootstrap's CSS is shipped in the repository as Bootstrap releases it
(scripts/vendor-bootstrap fetches it and checks the registry's integrity); these
hashes make any hand edit, or a half-finished update, visible."""

import hashlib

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

BOOTSTRAP = settings.BASE_DIR / "d09" / "static" / "vendor" / "bootstrap"
RELEASED = {
    "VERSION": "9b036a5069586600f858429424a5bab783f4ecd2f7d951c375b6d5f55cddcded",
    "LICENSE": "4620c84ad5ce8602ff65640ed6b7c8b78ebb9e036584f0ebc1ccc88206a4bb51",
    "css/bootstrap.min.css": "d85327d99c7a3ee1f9b5d0500d1370acea3ad2db39c163c2f51f232baedbdede",
    "css/bootstrap.min.css.map": "48144faf6aa0fb3cd2ce748d9730238f888f4ab715f05dabd1c9af2c5671988a",
}


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_the_vendored_bootstrap_files_are_the_release_files(name):
    digest = hashlib.sha256((BOOTSTRAP / name).read_bytes()).hexdigest()
    assert digest == RELEASED[name], f"{name} differs from Bootstrap 5.3.8's release"


def test_the_pages_stylesheet_path_is_found_by_the_static_finders():
    assert finders.find("vendor/bootstrap/css/bootstrap.min.css")
    assert finders.find("vendor/jquery/jquery.min.js")
