"""Test helpers: the deterministic consensus simulator and Byzantine node behaviours."""
