;; Starts with 5 pages (327,680 bytes): above the guardrail cases' 4-page limit.
(module (memory (export "memory") 5))
