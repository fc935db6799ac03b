"""The fedstake side of the example, outside Flower: the organization opens and
funds a pool for this app's model, participants join it with a stake (their
payout wallets committed as salted hashes), and after training each claims
its reward. All through `client_kit.actions`, like the `fedstake` CLI.

Keys live in one folder (`keys/`): `organization.json`, `aggregator.json`,
`participant-<i>.json` (what the ClientApp's `fedstake-keys-dir` setting
names), payout secrets under `keys/secrets/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flwr.app import ArrayRecord
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.actions import organization, participant
from client_kit.actions.reads import load_participant
from client_kit.enums import RewardPolicy
from client_kit.flower.records import tensors_of
from client_kit.gateway.base import ChainGateway
from client_kit.keys import load_keypair, load_payout_secret, write_keypair
from client_kit.storage.base import ContentStore
from client_kit.training.spec import mlp_spec
from client_kit.training.task import AggregationSpec, TaskPackage, TrainingConfig
from flower_digits.task import CLASSES, FEATURES, HIDDEN, initial_model

SOL = 1_000_000_000
STAKE = SOL // 10
REWARD_PER_ROUND = SOL


@dataclass(frozen=True)
class Keys:
    """The example's keypairs, created in `folder` on first use."""

    folder: Path
    participants: int

    def _key(self, name: str) -> Keypair:
        path = self.folder / f"{name}.json"
        if not path.exists():
            write_keypair(path, Keypair())
        return load_keypair(path)

    @property
    def organization(self) -> Keypair:
        return self._key("organization")

    @property
    def aggregator(self) -> Keypair:
        return self._key("aggregator")

    @property
    def aggregator_path(self) -> Path:
        self._key("aggregator")
        return self.folder / "aggregator.json"

    def participant(self, index: int) -> Keypair:
        return self._key(f"participant-{index}")

    def participant_path(self, index: int) -> Path:
        self._key(f"participant-{index}")
        return self.folder / f"participant-{index}.json"

    @property
    def secrets(self) -> Path:
        return self.folder / "secrets"


def digits_task(rule: str = "median") -> TaskPackage:
    """The pool's task package: the app's model as a spec, its initial weights."""
    weights = tensors_of(ArrayRecord(initial_model().state_dict()))
    return TaskPackage.create(
        "flower-digits",
        "sklearn digits (8x8) with a 64-32-10 MLP, trained by a Flower app",
        mlp_spec(FEATURES, [HIDDEN], CLASSES),
        TrainingConfig(epochs=1, batch_size=32, lr=0.05, optimizer="sgd", momentum=0.9),
        weights=weights,
        aggregation=AggregationSpec(rule),
    )


async def open_pool(
    chain: ChainGateway,
    store: ContentStore,
    keys: Keys,
    *,
    rounds: int,
    rule: str = "median",
    airdrop: bool = True,
) -> Pubkey:
    """Creates, funds and starts a pool with `keys.participants` joined
    participants; returns its address. `airdrop` funds the keys first
    (local chains only)."""
    wallets = [keys.participant(i) for i in range(keys.participants)]
    if airdrop:
        await chain.airdrop(keys.organization.pubkey(), (rounds + 2) * REWARD_PER_ROUND)
        await chain.airdrop(keys.aggregator.pubkey(), SOL)
        for wallet in wallets:
            await chain.airdrop(wallet.pubkey(), SOL)
    terms = organization.PoolTerms(
        reward_per_round=REWARD_PER_ROUND,
        max_rounds=rounds,
        round_duration=600,
        reveal_duration=300,
        min_stake=STAKE,
        max_participants=max(keys.participants, 2),
        # The contribution policy (the default) measures each update against
        # the operator's reference update, which needs reference data the
        # example's server doesn't have: `StakedStrategy(reference=...)` adds it.
        reward_policy=RewardPolicy.EQUAL,
    )
    created = await organization.create_pool(
        chain, store, keys.organization, digits_task(rule), terms,
        aggregator=keys.aggregator.pubkey(),
    )
    await organization.fund_pool(chain, keys.organization, created.pool, terms.funding_needed)
    for wallet in wallets:
        await participant.join_pool(chain, wallet, created.pool, STAKE, secrets_dir=keys.secrets)
    await organization.start_training(chain, keys.organization, created.pool)
    return created.pool


async def claim_all(chain: ChainGateway, pool: Pubkey, keys: Keys) -> dict[str, int]:
    """Each participant claims what it earned: lamports the program paid to
    its committed payout wallet, by wallet (0 when nothing was owed)."""
    paid = {}
    for i in range(keys.participants):
        wallet = keys.participant(i)
        state = await load_participant(chain, pool, wallet.pubkey())
        if state.reward_accrued == state.reward_paid:
            paid[str(wallet.pubkey())] = 0
            continue
        secret = load_payout_secret(keys.secrets, pool, wallet.pubkey())
        await participant.claim_reward(chain, wallet, pool, secret)
        after = await load_participant(chain, pool, wallet.pubkey())
        paid[str(wallet.pubkey())] = after.reward_paid - state.reward_paid
    return paid
