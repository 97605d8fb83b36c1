from services.sla.bootstrap import create_app
from services.sla.settings import SlaSettings
from shared import clock
from shared.runtime import serve
from shared.startup import refuse_insecure_start

settings = SlaSettings()
# Beyond loopback, no development secret (of any module the app loaded): exit 2 naming it.
refuse_insecure_start(settings.http_host)
clock.install_from_setting(settings.clock_start, settings.clock_start_wall)
serve(create_app(settings), settings.http_host, settings.http_port, settings.log_level, service="sla")
