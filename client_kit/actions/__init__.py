"""The use cases of a pool, as async functions every caller shares.

Grouped by who calls them:

* `organization` — create a pool (storing its task package; windows and
  reward policy), fund, start, cancel, close; pick the next free pool id;
* `participant` — join, fetch the task and the global model (hash checked),
  train, commit to an update, then store and reveal it, claim, withdraw,
  close a submission;
* `operator` — list a round's submissions (memcmp-filtered), fetch and verify
  a revealed update, judge, store and finalize the global model;
* `exits` — what anyone may do to end a pool nobody tends: expire a silent
  round or a pool that never started, reclaim funding for the organization,
  settle a participant after the claim window, close the pool;
* `reads` — the typed reads all three need (pool, participant, round,
  submission, pool listing).

Each function takes the chain gateway, the content store when it needs one,
and the signer's keypair, does one use case, and returns what happened (with
the `TxResult` of every transaction it sent). None of them loops or waits on
the chain: services that follow a pool over time are built on top of these.
The CLI, the demo, the aggregator and the tests call only these functions to
run a pool; `client_kit.instructions` stays the one place instructions are
assembled.
"""
