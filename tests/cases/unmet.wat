;; Imports the case host cannot satisfy, three ways: a function nobody defines, a memory,
;; and a host function imported with the wrong type.
(module
  (import "env" "missing" (func (param i32)))
  (import "env" "mem" (memory 1))
  (import "host" "add" (func (param i64 i64) (result i64))))
