"""Run the tracker service: ``ilrflow-tracker`` (or ``python -m ilrflow.tracker.main``)."""

from ilrflow.shared.service import serve
from ilrflow.shared.settings import get_settings
from ilrflow.tracker.bootstrap import SERVICE, create_app


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings, SERVICE)


if __name__ == "__main__":
    main()
