"""Run the ilr service: ``ilrflow-ilr`` (or ``python -m ilrflow.ilr.main``)."""

from ilrflow.ilr.bootstrap import SERVICE, create_app
from ilrflow.shared.service import serve
from ilrflow.shared.settings import get_settings


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings, SERVICE)


if __name__ == "__main__":
    main()
