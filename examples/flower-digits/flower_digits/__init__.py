"""flower-digits: a small Flower app (sklearn's 8×8 digits, a torch MLP) that
trains in a fedstake pool. See the README next to this package."""
