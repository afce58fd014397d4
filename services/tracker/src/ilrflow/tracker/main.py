"""Run the tracker service: ``ilrflow-tracker`` (or ``python -m ilrflow.tracker.main``)."""

from ilrflow.platform.service import serve
from ilrflow.platform.settings import get_settings
from ilrflow.tracker.bootstrap import SERVICE, create_app


def main() -> None:
    settings = get_settings()
    serve(lambda: create_app(settings), settings, SERVICE)


if __name__ == "__main__":
    main()
