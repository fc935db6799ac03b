"""The ClientApp: an ordinary Flower app. The one fedstake line is
`mods=[fedstake_mod]`, which commits each update's hash on chain with this
node's keypair and reveals it when the strategy asks."""

from __future__ import annotations

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from client_kit.flower import fedstake_mod
from flower_digits.task import Net, load_data, test, train

app = ClientApp(mods=[fedstake_mod])


def _partition(context: Context) -> tuple[int, int]:
    return int(context.node_config["partition-id"]), int(context.node_config["num-partitions"])


@app.train()
def train_fn(msg: Message, context: Context) -> Message:
    """Trains the received model on this node's partition."""
    model = Net()
    model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
    trainloader, _ = load_data(*_partition(context))
    epochs = int(context.run_config.get("local-epochs", 1))
    lr = float(context.run_config.get("lr", 0.05))
    loss = train(model, trainloader, epochs, lr)
    metrics = MetricRecord({"train_loss": loss, "num-examples": len(trainloader.dataset)})
    content = RecordDict({"arrays": ArrayRecord(model.state_dict()), "metrics": metrics})
    return Message(content=content, reply_to=msg)


@app.evaluate()
def evaluate_fn(msg: Message, context: Context) -> Message:
    """Evaluates the received model on this node's test split."""
    model = Net()
    model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
    _, testloader = load_data(*_partition(context))
    loss, accuracy = test(model, testloader)
    metrics = MetricRecord(
        {"eval_loss": loss, "eval_acc": accuracy, "num-examples": len(testloader.dataset)}
    )
    return Message(content=RecordDict({"metrics": metrics}), reply_to=msg)
