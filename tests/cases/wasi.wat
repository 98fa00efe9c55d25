;; A WASI command for the case table: `_start` prints its last argument and a newline to
;; stdout, then exits with the number of arguments after argv[0] (returning when there are
;; none); `quit` calls proc_exit with its argument.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 8) "\n")
  ;; 0: argc, 4: argv bytes, 16 and 24: iovecs, 32: bytes written, 64: argv, 1024: the strings
  (func (export "_start")
    (local $argc i32) (local $last i32) (local $len i32)
    (drop (call $sizes (i32.const 0) (i32.const 4)))
    (local.set $argc (i32.load (i32.const 0)))
    (if (i32.eqz (local.get $argc)) (then (return)))
    (drop (call $args (i32.const 64) (i32.const 1024)))
    (local.set $last (i32.load (i32.add (i32.const 64) (i32.shl (i32.sub (local.get $argc) (i32.const 1)) (i32.const 2)))))
    (block $done
      (loop $scan
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $last) (local.get $len)))))
        (local.set $len (i32.add (local.get $len) (i32.const 1)))
        (br $scan)))
    ;; One iovec a call: WASI may write just the first of several.
    (i32.store (i32.const 16) (local.get $last))
    (i32.store (i32.const 20) (local.get $len))
    (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 32)))
    (i32.store (i32.const 24) (i32.const 8))
    (i32.store (i32.const 28) (i32.const 1))
    (drop (call $write (i32.const 1) (i32.const 24) (i32.const 1) (i32.const 32)))
    (if (i32.gt_u (local.get $argc) (i32.const 1))
      (then (call $exit (i32.sub (local.get $argc) (i32.const 1))))))
  (func (export "quit") (param i32) (call $exit (local.get 0))))
