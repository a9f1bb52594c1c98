//! Engine-level tests: rounds, fairness, modes, properties.
