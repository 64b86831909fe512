;; XOR masking, RFC 6455 §5.3, with 128-bit SIMD. Built into ../mask-wasm.ts by
;; scripts/build-wasm.mjs; src/mask.ts drives it.
;;
;; Contract: the module owns one 64 KiB page, its window. The caller copies up to 64 KiB into the
;; window at offset 0, calls `mask(length, key)` and copies the result out. `key` is the 4-byte
;; mask already rotated to the window's first byte, as a little-endian i32 (WebAssembly memory is
;; little-endian on every host). The loop XORs whole 128-byte blocks, rounding `length` up: the
;; bytes past `length` are garbage the caller never reads, and the rounding never leaves the page.
(module
  (memory (export "memory") 1 1)
  (func (export "mask") (param $length i32) (param $key i32)
    (local $p i32)
    (local $end i32)
    (local $k v128)
    (local.set $k (i32x4.splat (local.get $key)))
    (local.set $end (i32.and (i32.add (local.get $length) (i32.const 127)) (i32.const -128)))
    (block $done
      (loop $block
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (v128.store offset=0 (local.get $p) (v128.xor (v128.load offset=0 (local.get $p)) (local.get $k)))
        (v128.store offset=16 (local.get $p) (v128.xor (v128.load offset=16 (local.get $p)) (local.get $k)))
        (v128.store offset=32 (local.get $p) (v128.xor (v128.load offset=32 (local.get $p)) (local.get $k)))
        (v128.store offset=48 (local.get $p) (v128.xor (v128.load offset=48 (local.get $p)) (local.get $k)))
        (v128.store offset=64 (local.get $p) (v128.xor (v128.load offset=64 (local.get $p)) (local.get $k)))
        (v128.store offset=80 (local.get $p) (v128.xor (v128.load offset=80 (local.get $p)) (local.get $k)))
        (v128.store offset=96 (local.get $p) (v128.xor (v128.load offset=96 (local.get $p)) (local.get $k)))
        (v128.store offset=112 (local.get $p) (v128.xor (v128.load offset=112 (local.get $p)) (local.get $k)))
        (local.set $p (i32.add (local.get $p) (i32.const 128)))
        (br $block)))))
