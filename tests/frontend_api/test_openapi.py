"""Schemathesis against the app's OpenAPI document: every REST operation, with
generated parameters (valid and invalid), answers as documented — status
codes, content types and bodies match the schema, and nothing is a 500.

The app runs in process (schemathesis' ASGI transport runs its lifespan)
over an embedded chain holding one judged round, and half of the valid cases
have their pool, wallet and round replaced by real ones, so the 200 answers
are checked too, not only 404. Invalid cases (negative mode: wrong types,
patterns, formats, unknown query parameters) must be refused with 4xx.
"""

from __future__ import annotations

import asyncio
import zlib

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from solders.pubkey import Pubkey

from client_kit.gateway.embedded import EmbeddedGateway
from frontend_api import ApiSettings, create_app
from frontend_api.deps import ADDRESS_FORMAT
from tests.frontend_api.story import judged_round
from tests.pools import PoolScenario

pytestmark = pytest.mark.timeout(600)
REAL: dict[str, str] = {}

# Addresses are declared `format: solana-pubkey`: valid cases are real 32-byte keys.
schemathesis.openapi.format(
    ADDRESS_FORMAT, st.binary(min_size=32, max_size=32).map(lambda raw: str(Pubkey(raw)))
)


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    chain = EmbeddedGateway()
    scenario = PoolScenario(chain, tmp_path_factory.mktemp("store"))

    async def prepare() -> None:
        await scenario.setup()
        story = await judged_round(scenario)
        REAL["pool"] = str(scenario.key)
        REAL["wallet"] = str(story.trainers[0].wallet.pubkey())

    asyncio.run(prepare())
    app = create_app(ApiSettings(chain=chain, cors_origins=["http://dashboard.test"]))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _use_real(value: object) -> bool:
    return zlib.crc32(repr(value).encode()) % 2 == 0


def _with_real_keys(case) -> None:  # type: ignore[no-untyped-def]
    params = case.path_parameters or {}
    if "pool" in params and _use_real(params):
        params["pool"] = REAL["pool"]
        if "wallet" in params:
            params["wallet"] = REAL["wallet"]
        if "round" in params:
            params["round"] = 1


# Each operation is a hypothesis run of its own (schemathesis' pytest loader for
# fixtures does not work with pytest 9, so the operations are iterated here).
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_rest_operations_answer_as_documented(api_schema, mode: GenerationMode) -> None:  # type: ignore[no-untyped-def]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()):
            continue  # nothing to break in a request without parameters

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        def answers_as_documented(case) -> None:  # type: ignore[no-untyped-def]
            if mode is GenerationMode.POSITIVE:
                _with_real_keys(case)
            case.call_and_validate()

        answers_as_documented()
