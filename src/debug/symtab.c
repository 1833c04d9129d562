/* symtab.c - PC to "function + offset" for tracebacks, without malloc.
 *
 * dladdr only knows exported dynamic symbols, which misses every static
 * function and all of libgort's hidden ones. So, on the fatal path only,
 * we find the module that holds a PC (dl_iterate_phdr), map its file
 * read-only once, and scan .symtab (falling back to .dynsym when the file
 * is stripped) for the STT_FUNC symbol that contains the PC. Up to 32
 * modules are cached in static storage; nothing is ever freed (the process
 * is dying, or this is a SIGQUIT dump). */
#include "debug.h"
#include "../os/os.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXMOD 32

typedef struct module {
    uintptr_t base;      /* load bias (dlpi_addr) */
    uintptr_t lo, hi;    /* executable segment range */
    char path[256];
    const uint8_t *file; /* mmap of the ELF file, or NULL */
    size_t filesize;
    const Elf64_Sym *syms;
    size_t nsyms;
    const char *strs;
    bool tried;
} module;

static module mods[MAXMOD];
static int nmods;

static int collect(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    if (nmods >= MAXMOD)
        return 1;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        module *m = &mods[nmods++];
        memset(m, 0, sizeof(*m));
        m->base = info->dlpi_addr;
        m->lo = info->dlpi_addr + ph->p_vaddr;
        m->hi = m->lo + ph->p_memsz;
        const char *name = info->dlpi_name;
        if (name == NULL || name[0] == 0)
            name = "/proc/self/exe";
        strncpy(m->path, name, sizeof(m->path) - 1);
        if (nmods >= MAXMOD)
            return 1;
    }
    return 0;
}

static module *findmod(uintptr_t pc)
{
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < nmods; i++)
            if (pc >= mods[i].lo && pc < mods[i].hi)
                return &mods[i];
        if (pass == 0) {
            /* Modules may have been loaded since: rescan (keeps order). */
            nmods = 0;
            dl_iterate_phdr(collect, NULL);
        }
    }
    return NULL;
}

static void loadsyms(module *m)
{
    if (m->tried)
        return;
    m->tried = true;
    int fd = open(m->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
        close(fd);
        return;
    }
    const void *p = rt_sysMapFile(fd, (size_t)st.st_size, NULL);
    close(fd);
    if (p == NULL)
        return;
    m->file = p;
    m->filesize = (size_t)st.st_size;
    const Elf64_Ehdr *eh = p;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shoff == 0 || eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) > m->filesize)
        return;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(m->file + eh->e_shoff);
    for (int want = 0; want < 2 && m->syms == NULL; want++) {
        uint32_t type = want == 0 ? SHT_SYMTAB : SHT_DYNSYM;
        for (int i = 0; i < eh->e_shnum; i++) {
            if (sh[i].sh_type != type || sh[i].sh_link >= eh->e_shnum)
                continue;
            const Elf64_Shdr *strsh = &sh[sh[i].sh_link];
            if (sh[i].sh_offset + sh[i].sh_size > m->filesize ||
                strsh->sh_offset + strsh->sh_size > m->filesize)
                continue;
            m->syms = (const Elf64_Sym *)(m->file + sh[i].sh_offset);
            m->nsyms = sh[i].sh_size / sizeof(Elf64_Sym);
            m->strs = (const char *)(m->file + strsh->sh_offset);
            break;
        }
    }
}

bool rt_symbolize(uintptr_t pc, rt_syminfo *out)
{
    memset(out, 0, sizeof(*out));
    module *m = findmod(pc);
    if (m == NULL)
        return false;
    out->module = m->path;
    out->modoff = pc - m->base;
    loadsyms(m);
    uintptr_t off = pc - m->base;
    const Elf64_Sym *best = NULL;
    for (size_t i = 0; i < m->nsyms; i++) {
        const Elf64_Sym *s = &m->syms[i];
        if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_value == 0)
            continue;
        if (off >= s->st_value && off < s->st_value + (s->st_size ? s->st_size : 1)) {
            best = s;
            break;
        }
    }
    if (best != NULL) {
        out->name = m->strs + best->st_name;
        out->funcoff = off - best->st_value;
    }
    return true;
}
