"""The participant agent (`fedstake participate`): follows a pool for one
participant, round after round, until it ends.

It lives in `offchain` (the runtime layer) because it is a long-running loop,
and `client_kit` has none: the agent is built only on `client_kit.actions`
and typed reads, like the operator's services, and needs nothing of the
operator's (no aggregation rule, no bus). Modules:

* `agent` — `ParticipantAgent`: one pass reads the chain and does the one
  thing its state calls for; `run()` repeats passes until the pool ended;
* `journal` — the committed update's bytes, kept privately until revealed
  and judged (what makes a crash at any point resumable);
* `report` — what the user sees: lines, a live rich display, JSON lines;
* `stopping` — SIGINT/SIGTERM as a graceful cancellation.
"""

from offchain.agent.agent import (
    AgentConfig,
    AgentError,
    Ended,
    NotJoined,
    ParticipantAgent,
    StakeRequired,
    Waiting,
)
from offchain.agent.journal import JournalError, PendingUpdate, UpdateJournal
from offchain.agent.report import AgentEvent, ConsoleReporter, JsonLinesReporter, Reporter

__all__ = [
    "AgentConfig",
    "AgentError",
    "AgentEvent",
    "ConsoleReporter",
    "Ended",
    "JournalError",
    "JsonLinesReporter",
    "NotJoined",
    "ParticipantAgent",
    "PendingUpdate",
    "Reporter",
    "StakeRequired",
    "UpdateJournal",
    "Waiting",
]
