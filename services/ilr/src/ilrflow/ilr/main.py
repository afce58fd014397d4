"""Run the ilr service: ``ilrflow-ilr`` (or ``python -m ilrflow.ilr.main``)."""

from ilrflow.ilr.bootstrap import SERVICE, create_app
from ilrflow.platform.service import serve
from ilrflow.platform.settings import get_settings


def main() -> None:
    settings = get_settings()
    serve(lambda: create_app(settings), settings, SERVICE)


if __name__ == "__main__":
    main()
