/* fat-from-dir SRCDIR IMAGE [EPOCH] — test helper: a FAT image of a directory tree via fatimg. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "medium/fatimg.h"
#include "util/fileio.h"

static int add_tree(tb_fat *fat, const char *src, const char *rel) {
        DIR *d = opendir(src);
        struct dirent *de;
        int r = 0;

        if (!d)
                return -1;
        while (r == 0 && (de = readdir(d))) {
                char s[4096], p[4096];
                struct stat st;

                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                snprintf(s, sizeof(s), "%s/%s", src, de->d_name);
                snprintf(p, sizeof(p), "%s/%s", rel, de->d_name);
                if (stat(s, &st) < 0)
                        r = -1;
                else if (S_ISDIR(st.st_mode))
                        r = tb_fat_add_dir(fat, p) < 0 || add_tree(fat, s, p) < 0 ? -1 : 0;
                else
                        r = tb_fat_add_file(fat, p, s) < 0 ? -1 : 0;
                if (r)
                        fprintf(stderr, "fat-from-dir: cannot add %s\n", s);
        }
        closedir(d);
        return r;
}

int main(int argc, char **argv) {
        tb_fat_options o = { .label = "TESTESP", .volume_id = 0x12345678 };
        tb_fat *fat;
        int fd;
        int64_t size;

        if (argc < 3)
                return 2;
        if (argc > 3)
                o.epoch = atoll(argv[3]);
        if (tb_fat_new(&fat) < 0 || add_tree(fat, argv[1], "") < 0)
                return 1;
        fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return 1;
        size = tb_fat_write(fat, fd, &o);
        tb_fat_free(fat);
        close(fd);
        if (size < 0) {
                fprintf(stderr, "fat-from-dir: %s\n", strerror((int)-size));
                return 1;
        }
        printf("%lld\n", (long long)size);
        return 0;
}
