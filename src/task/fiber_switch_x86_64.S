/* Fiber context switch, x86-64 System V. See fiber.h; the C side (fiber.c) tells the
 * sanitizers about the switch, this file only swaps stacks.
 *
 * A suspended fiber's stack pointer points at this frame (lowest address first):
 *
 *     sp+0   MXCSR (4 bytes), x87 control word (2 bytes), 2 bytes padding
 *     sp+8   r15
 *     sp+16  r14
 *     sp+24  r13
 *     sp+32  r12
 *     sp+40  rbx
 *     sp+48  rbp
 *     sp+56  return address
 *
 * Those are exactly the registers the ABI makes callee-saved; everything else the C caller
 * already assumes clobbered by the call. roost__fiber_init writes the same frame by hand for a
 * new fiber, with roost__fiber_trampoline as the return address.
 */
#if !defined(__x86_64__) || defined(__ILP32__)
#error "roost: fibers support x86-64 only (aarch64 not yet)"
#endif

    .text

/* void roost__fiber_switch_raw(void **save_sp, void *new_sp)
 * Saves the caller's context on its own stack, stores the stack pointer in *save_sp, and
 * resumes the context saved at new_sp. */
    .globl  roost__fiber_switch_raw
    .hidden roost__fiber_switch_raw
    .type   roost__fiber_switch_raw, @function
    .p2align 4
roost__fiber_switch_raw:
    .cfi_startproc
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    subq    $8, %rsp
    .cfi_adjust_cfa_offset 8
    /* Rounding mode and exception masks are callee-saved too (ABI 3.2.1): a task that
     * changes them must not change them for whatever runs next on this thread. */
    stmxcsr (%rsp)
    fnstcw  4(%rsp)

    movq    %rsp, (%rdi)
    movq    %rsi, %rsp
    /* From here on we are on the other fiber's stack; its frame has the same layout, so
     * the CFI above still describes it for debuggers. */

    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq    %r15
    .cfi_adjust_cfa_offset -8
    popq    %r14
    .cfi_adjust_cfa_offset -8
    popq    %r13
    .cfi_adjust_cfa_offset -8
    popq    %r12
    .cfi_adjust_cfa_offset -8
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    ret
    .cfi_endproc
    .size   roost__fiber_switch_raw, . - roost__fiber_switch_raw

/* First code a new fiber runs: "returned" into from roost__fiber_switch_raw with r12 = the
 * struct roost_fiber and rsp 16-byte aligned, so the call below gives roost__fiber_run the
 * alignment the ABI promises at function entry (rsp + 8 a multiple of 16). rbp is 0, which
 * ends frame-pointer walks here; .cfi_undefined rip ends DWARF unwinds. */
    .globl  roost__fiber_trampoline
    .hidden roost__fiber_trampoline
    .type   roost__fiber_trampoline, @function
    .p2align 4
roost__fiber_trampoline:
    .cfi_startproc
    .cfi_undefined %rip
    movq    %r12, %rdi
    call    roost__fiber_run@PLT
    ud2     /* roost__fiber_run never returns */
    .cfi_endproc
    .size   roost__fiber_trampoline, . - roost__fiber_trampoline

    .section .note.GNU-stack, "", @progbits
