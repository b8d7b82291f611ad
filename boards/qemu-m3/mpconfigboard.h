// uedge qemu-m3 board options, on top of ports/qemu/mpconfigport.h
// (force-included before it: only options that file leaves to their defaults).
#define MICROPY_PY_TIME_GMTIME_LOCALTIME_MKTIME (1)
#define MICROPY_PY_TIME_TIME_TIME_NS (1)
#define MICROPY_EPOCH_IS_1970 (1)   // as rp2 and esp32
#define MICROPY_EPOCH_IS_2000 (0)
#define MICROPY_PY_OS_URANDOM (1)
#define MICROPY_PY_SYS_STDIO_BUFFER (1)

// Runs after the runtime is set up on every (soft) boot: heap setting, filesystems.
#define MICROPY_PORT_INIT_FUNC uedge_board_init()
#ifndef __ASSEMBLER__
void uedge_board_init(void);
#endif

// Flash-like block device for littlefs: 2 MB of the machine's SSRAM2/3 (outside
// the firmware's RAM), kept across soft resets, lost when qemu stops.
#define UEDGE_FLASH_ADDR (0x20000000)
#define UEDGE_FLASH_BYTES (2 * 1024 * 1024)
#define UEDGE_FLASH_BLOCK (4096)
// Board settings word pair in block RAM: {magic, usable GC heap bytes}.
// qemu -device loader,addr=0x01000000,... (tools/qemu_board.py --heap) or
// machine.mem32 writes set it; read at every boot.
#define UEDGE_SETTINGS_ADDR (0x01000000)
#define UEDGE_SETTINGS_MAGIC (0x48454150)  // "HEAP"

// socket and network modules as on a board, with no network interface: the qemu
// machine's Ethernet (LAN9118) has no MicroPython driver, so socket() and
// getaddrinfo() raise OSError as a board without a link does.
#define MICROPY_PY_NETWORK (1)
#define MICROPY_PY_SOCKET (1)
#define MICROPY_PY_NETWORK_HOSTNAME_DEFAULT "uedge-qemu"
#define MICROPY_PORT_NETWORK_INTERFACES  // none
