/* isoread.h — getting the ESP out of an installable ISO (iso.h writes them): one file read from
 * the ISO 9660 tree with libisofs, and the files of a FAT image copied out with mtools' mcopy
 * (there is no FAT reader in the library: fatimg.h only writes). */
#pragma once

/* Copies the regular file PATH ("/efiboot.img") of ISO to OUT (created, 0600). Logs failures. */
int tb_isoread_extract(const char *iso, const char *path, const char *out);

/* Copies every file of the FAT image IMG into the new directory DIR (mcopy -s). Logs failures. */
int tb_isoread_fat_extract(const char *img, const char *dir);
