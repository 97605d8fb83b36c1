from services.routing.app import create_app
from services.routing.settings import RoutingSettings
from shared.runtime import serve

settings = RoutingSettings()
serve(create_app(settings), settings.http_host, settings.http_port, settings.log_level)
