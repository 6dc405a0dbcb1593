"""Pull-request tooling: catalog snapshots, rehearse, and the reports of check, diff and rehearse."""
