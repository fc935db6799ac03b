"""A Flower `Grid` that delivers each message to a ClientApp in this process.

Test scaffolding for the adapter on the embedded chain: Flower's own
simulation runs ClientApps in Ray worker processes, which cannot share an
in-process LiteSVM. This grid does what Flower's `InMemoryGrid` + SuperNode
do for one message, in order: give it an id, call the node's ClientApp with
the node's persistent `Context` (so `Context.state` lives across messages,
as a SuperNode keeps it), and turn an exception into an error reply, as
Flower does. The apps, mods and strategies it runs are the real ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import uuid4

from flwr.app import Context, Error, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.common.constant import SUPERLINK_NODE_ID, ErrorCode
from flwr.serverapp import Grid
from flwr.supercore.run import Run
from flwr.supercore.task_identity import TaskIdentity


class LocalGrid(Grid):
    """Nodes 1..n, node i running `apps[i - 1]` with partition-id i - 1."""

    def __init__(self, apps: list[ClientApp], run_config: dict | None = None) -> None:  # type: ignore[type-arg]
        self.apps = {i + 1: app for i, app in enumerate(apps)}
        self.contexts = {
            node: Context(
                run_id=1,
                node_id=node,
                node_config={"partition-id": node - 1, "num-partitions": len(apps)},
                state=RecordDict(),
                run_config=dict(run_config or {}),
            )
            for node in self.apps
        }
        self.errors: list[str] = []
        self._run: Run | None = None
        # who is sending, as Flower's ServerApp runtime sets it before `main`
        TaskIdentity.task_id, TaskIdentity.run_id = 1, 1
        TaskIdentity.node_id = SUPERLINK_NODE_ID

    def set_run(self, run: Run) -> None:
        self._run = run

    @property
    def run(self) -> Run:
        assert self._run is not None
        return self._run

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None):  # type: ignore[no-untyped-def]
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return list(self.apps)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        raise NotImplementedError("LocalGrid only answers send_and_receive")

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        raise NotImplementedError("LocalGrid only answers send_and_receive")

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        replies = []
        for message in messages:
            message.metadata.__dict__["_message_id"] = str(uuid4())
            node = message.metadata.dst_node_id
            try:
                reply = self.apps[node](message, self.contexts[node])
            except Exception as exc:  # Flower turns a ClientApp exception into an error reply
                self.errors.append(f"node {node}: {type(exc).__name__}: {exc}")
                error = Error(ErrorCode.CLIENT_APP_RAISED_EXCEPTION, f"{type(exc).__name__}: {exc}")
                reply = Message(error, reply_to=message)
            replies.append(reply)
        return replies
