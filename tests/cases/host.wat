;; The module the shared host-function cases run against. Its imports are served by "the
;; case host" that every suite defines the same way (see cases.tsv).
(module
  (import "host" "add" (func $add (param i32 i32) (result i32)))
  (import "host" "fail" (func $fail (param i32) (result i32)))
  (import "host" "peek" (func $peek (param i32) (result i32)))
  (import "host" "twice" (func $twice (param i32) (result i32)))
  (import "host" "swap" (func $swap (param v128) (result v128)))
  (memory (export "memory") 1)
  (data (i32.const 16) "\2a\07")
  (func (export "use_add") (param i32 i32) (result i32) (call $add (local.get 0) (local.get 1)))
  (func (export "use_fail") (param i32) (result i32) (call $fail (local.get 0)))
  (func (export "use_peek") (param i32) (result i32) (call $peek (local.get 0)))
  (func (export "use_twice") (param i32) (result i32) (call $twice (local.get 0)))
  (func (export "double") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func (export "use_swap") (param v128) (result v128) (call $swap (local.get 0))))
