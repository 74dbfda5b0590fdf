//! A stateful local Klarna: the simulator for offline runs and tests.
