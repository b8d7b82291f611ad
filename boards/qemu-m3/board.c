// uedge qemu-m3 board support: heap setting, flash-like block device, wall clock.
#include <string.h>

#include "py/runtime.h"
#include "py/gc.h"
#include "py/mphal.h"
#include "shared/runtime/pyexec.h"
#include "extmod/vfs.h"
#include "extmod/modnetwork.h"

// A block of GC heap held from boot, so that the heap a program can use is the
// one a board with a smaller MICROPY_HEAP_SIZE would have (see uedge_board_init).
MP_REGISTER_ROOT_POINTER(void *uedge_heap_ballast);

static uint64_t boot_epoch_ns;

// ARM semihosting SYS_TIME: seconds since 1970 from the host (qemu -semihosting).
static uint32_t semihosting_time(void) {
    register uint32_t op __asm__ ("r0") = 0x11;
    register uint32_t arg __asm__ ("r1") = 0;
    __asm__ volatile ("bkpt 0xab" : "+r" (op) : "r" (arg) : "memory");
    return op;
}

uint64_t mp_hal_time_ns(void) {
    return boot_epoch_ns + (uint64_t)mp_hal_ticks_us() * 1000ULL;
}

// Usable heap setting: the GC heap is built with a large MICROPY_HEAP_SIZE; when
// the settings word asks for N bytes, a block is allocated and held so that
// gc.mem_free() + gc.mem_alloc() - held equals what gc_init gives for an N byte
// heap area (the allocation tables scale with the area, so the pool of an N byte
// area is N * pool(full) / full).  The held block sits at the start of the heap,
// the rest stays one contiguous region, as in a smaller heap.
static void apply_heap_setting(void) {
    volatile uint32_t *s = (volatile uint32_t *)UEDGE_SETTINGS_ADDR;
    MP_STATE_VM(uedge_heap_ballast) = NULL;
    if (s[0] != UEDGE_SETTINGS_MAGIC || s[1] == 0 || s[1] >= MICROPY_HEAP_SIZE) {
        return;
    }
    gc_info_t info;
    gc_info(&info);
    size_t pool = (size_t)((uint64_t)s[1] * info.total / MICROPY_HEAP_SIZE);
    size_t used = info.used;
    if (pool <= used + 64) {
        return;
    }
    size_t hold = info.total - pool;
    // gc_alloc rounds up to whole 16 byte blocks: ask for whole blocks
    hold = hold / MICROPY_BYTES_PER_GC_BLOCK * MICROPY_BYTES_PER_GC_BLOCK;
    MP_STATE_VM(uedge_heap_ballast) = gc_alloc(hold, 0);
}

void uedge_board_init(void) {
    if (boot_epoch_ns == 0) {
        boot_epoch_ns = (uint64_t)semihosting_time() * 1000000000ULL - (uint64_t)mp_hal_ticks_us() * 1000ULL;
    }
    apply_heap_setting();
    mod_network_init();
    pyexec_frozen_module("_board_boot.py", false);
}

// _board.heap_held(): bytes of GC heap held by the heap setting.
static mp_obj_t board_heap_held(void) {
    void *p = MP_STATE_VM(uedge_heap_ballast);
    return MP_OBJ_NEW_SMALL_INT(p ? gc_nbytes(p) : 0);
}
static MP_DEFINE_CONST_FUN_OBJ_0(board_heap_held_obj, board_heap_held);

// _board.Flash(): the littlefs block device (extended block protocol), memory
// mapped like a board's flash, erase sets 0xff.
typedef struct _board_flash_obj_t {
    mp_obj_base_t base;
} board_flash_obj_t;

static const mp_obj_type_t board_flash_type;
static const board_flash_obj_t board_flash_obj = {{&board_flash_type}};

static mp_obj_t board_flash_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 0, 0, false);
    return MP_OBJ_FROM_PTR(&board_flash_obj);
}

static uint8_t *flash_range(mp_obj_t block, mp_obj_t offset, size_t len) {
    size_t addr = mp_obj_get_int(block) * UEDGE_FLASH_BLOCK + (offset == mp_const_none ? 0 : mp_obj_get_int(offset));
    if (addr + len > UEDGE_FLASH_BYTES) {
        mp_raise_ValueError(MP_ERROR_TEXT("flash range"));
    }
    return (uint8_t *)UEDGE_FLASH_ADDR + addr;
}

static mp_obj_t board_flash_readblocks(size_t n_args, const mp_obj_t *args) {
    mp_buffer_info_t b;
    mp_get_buffer_raise(args[2], &b, MP_BUFFER_WRITE);
    memcpy(b.buf, flash_range(args[1], n_args > 3 ? args[3] : mp_const_none, b.len), b.len);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(board_flash_readblocks_obj, 3, 4, board_flash_readblocks);

static mp_obj_t board_flash_writeblocks(size_t n_args, const mp_obj_t *args) {
    mp_buffer_info_t b;
    mp_get_buffer_raise(args[2], &b, MP_BUFFER_READ);
    uint8_t *dst = flash_range(args[1], n_args > 3 ? args[3] : mp_const_none, b.len);
    if (n_args == 3) {
        // simple protocol: erase the blocks first
        memset(dst, 0xff, (b.len + UEDGE_FLASH_BLOCK - 1) / UEDGE_FLASH_BLOCK * UEDGE_FLASH_BLOCK);
    }
    memcpy(dst, b.buf, b.len);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(board_flash_writeblocks_obj, 3, 4, board_flash_writeblocks);

static mp_obj_t board_flash_ioctl(mp_obj_t self, mp_obj_t op_in, mp_obj_t arg) {
    switch (mp_obj_get_int(op_in)) {
        case MP_BLOCKDEV_IOCTL_BLOCK_COUNT:
            return MP_OBJ_NEW_SMALL_INT(UEDGE_FLASH_BYTES / UEDGE_FLASH_BLOCK);
        case MP_BLOCKDEV_IOCTL_BLOCK_SIZE:
            return MP_OBJ_NEW_SMALL_INT(UEDGE_FLASH_BLOCK);
        case MP_BLOCKDEV_IOCTL_BLOCK_ERASE:
            memset(flash_range(arg, mp_const_none, UEDGE_FLASH_BLOCK), 0xff, UEDGE_FLASH_BLOCK);
            return MP_OBJ_NEW_SMALL_INT(0);
        default:
            return MP_OBJ_NEW_SMALL_INT(0);
    }
}
static MP_DEFINE_CONST_FUN_OBJ_3(board_flash_ioctl_obj, board_flash_ioctl);

static const mp_rom_map_elem_t board_flash_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_readblocks), MP_ROM_PTR(&board_flash_readblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_writeblocks), MP_ROM_PTR(&board_flash_writeblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_ioctl), MP_ROM_PTR(&board_flash_ioctl_obj) },
};
static MP_DEFINE_CONST_DICT(board_flash_locals, board_flash_locals_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    board_flash_type, MP_QSTR_Flash, MP_TYPE_FLAG_NONE,
    make_new, board_flash_make_new,
    locals_dict, &board_flash_locals
    );

static const mp_rom_map_elem_t board_module_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__board) },
    { MP_ROM_QSTR(MP_QSTR_Flash), MP_ROM_PTR(&board_flash_type) },
    { MP_ROM_QSTR(MP_QSTR_heap_held), MP_ROM_PTR(&board_heap_held_obj) },
    { MP_ROM_QSTR(MP_QSTR_SETTINGS_ADDR), MP_ROM_INT(UEDGE_SETTINGS_ADDR) },
};
static MP_DEFINE_CONST_DICT(board_module, board_module_table);

const mp_obj_module_t mp_module_board = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&board_module,
};
MP_REGISTER_MODULE(MP_QSTR__board, mp_module_board);
