;; Its start function traps, so every instantiation fails with PACKR_ERR_TRAP.
(module (func $start unreachable) (start $start))
