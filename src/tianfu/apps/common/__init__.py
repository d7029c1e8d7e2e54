"""What every application shares: command tables, input parsing, readable output, the SDK
base class and the scenario runner. An application is its contract, its SDK and its tables."""
