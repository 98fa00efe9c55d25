;; Runaway guests for the guardrail cases: a loop that never ends, recursion as deep as
;; asked, and memory growth.
(module
  (memory (export "memory") 1)
  (table 2 funcref)
  (func (export "spin") (loop $l (br $l)))
  (func $deep (export "deep") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $deep (i32.sub (local.get 0) (i32.const 1)))))))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "grow_table") (param i32) (result i32) (table.grow (ref.null func) (local.get 0)))
  (func (export "one") (result i32) (i32.const 1)))
