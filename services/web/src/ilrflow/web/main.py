"""Run the web console: ``ilrflow-web`` (or ``python -m ilrflow.web.main``)."""

from ilrflow.platform.service import serve
from ilrflow.platform.settings import get_settings
from ilrflow.web.bootstrap import SERVICE, create_app


def main() -> None:
    settings = get_settings()
    serve(lambda: create_app(settings), settings, SERVICE)


if __name__ == "__main__":
    main()
