from tests.actors.parts import members, start_hub  # noqa: F401 (fixtures)
