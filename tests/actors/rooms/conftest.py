from tests.actors.parts import members, start_hub  # noqa: F401 (fixtures)
from tests.cluster.conftest import private_redis  # noqa: F401 (fixture)
