from services.sla.app import create_app
from services.sla.settings import SlaSettings
from shared.runtime import serve

settings = SlaSettings()
serve(create_app(settings), settings.http_host, settings.http_port, settings.log_level)
