# Turns the files of the web plugin's static/ folder into C arrays (run with cmake -P):
#   cmake -DDIR=plugins/web/static -DOUT=web_assets.c -P plugins/web/embed.cmake
# Each asset is served under a name that carries its content's hash (app.3f9c0e12ab.js), so
# browsers keep it for a year without asking again, and is compressed here, once, with gzip
# (a slow link carries a third of the bytes). index.html is the page's template: its
# references to assets are rewritten to the hashed names, and the plugin fills in the rest.
# Only plain files with plain names are served: anything else stops the build.
file(GLOB files LIST_DIRECTORIES false RELATIVE ${DIR} ${DIR}/*)
list(SORT files)
set(work ${OUT}.d)
file(REMOVE_RECURSE ${work})
file(MAKE_DIRECTORY ${work})

# The bytes of a file as a C initializer list, and their count.
# A gzip stream's modification time (bytes 4 to 7) is zeroed: the same input, the same build.
function(c_bytes path out_bytes out_len)
  file(READ ${path} hex HEX)
  if(path MATCHES "\\.gz$")
    string(SUBSTRING "${hex}" 0 8 head)
    string(SUBSTRING "${hex}" 16 -1 tail)
    set(hex "${head}00000000${tail}")
  endif()
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  set(${out_bytes} "${bytes}" PARENT_SCOPE)
  set(${out_len} ${len} PARENT_SCOPE)
endfunction()

set(body "/* Generated from plugins/web/static by plugins/web/embed.cmake: do not edit. */\n#include <stddef.h>\n\n")
set(table "")
set(renames "")
set(i 0)
foreach(name ${files})
  if(name MATCHES "^\\.")
    continue()  # editors' files (.app.js.swp) are never served
  endif()
  if(NOT name MATCHES "^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
    message(FATAL_ERROR "plugins/web/static/${name}: use letters, digits, '.', '_' and '-' in file names")
  endif()
  if(name STREQUAL "index.html")
    continue()  # the template, below, once every hashed name is known
  endif()
  file(SHA256 ${DIR}/${name} sum)
  string(SUBSTRING "${sum}" 0 10 short)
  if(name MATCHES "^(.*)(\\.[A-Za-z0-9]+)$")
    set(hashed "${CMAKE_MATCH_1}.${short}${CMAKE_MATCH_2}")
  else()
    set(hashed "${name}.${short}")
  endif()
  list(APPEND renames "${name}=${hashed}")
  file(ARCHIVE_CREATE OUTPUT ${work}/${name}.gz PATHS ${DIR}/${name} FORMAT raw COMPRESSION GZip COMPRESSION_LEVEL 9)
  c_bytes(${DIR}/${name} bytes len)
  c_bytes(${work}/${name}.gz gzbytes gzlen)
  string(APPEND body "static const unsigned char asset${i}[] = {${bytes}0x00};\n")
  string(APPEND body "static const unsigned char asset${i}_gz[] = {${gzbytes}0x00};\n")
  string(SUBSTRING "${sum}" 0 16 etag)
  string(APPEND table "  {\"${name}\", \"${hashed}\", asset${i}, ${len}, asset${i}_gz, ${gzlen}, \"\\\"${etag}\\\"\"},\n")
  math(EXPR i "${i} + 1")
endforeach()

# The page template, pointing at the hashed names.
set(page "")
if(EXISTS ${DIR}/index.html)
  file(READ ${DIR}/index.html page)
  foreach(pair ${renames})
    string(REPLACE "=" ";" pair "${pair}")
    list(GET pair 0 from)
    list(GET pair 1 to)
    string(REPLACE "/assets/${from}\"" "/assets/${to}\"" page "${page}")
  endforeach()
endif()
file(WRITE ${work}/index.html "${page}")
c_bytes(${work}/index.html pagebytes pagelen)
string(APPEND body "\nconst char gv_web_page[] = {${pagebytes}0x00};\nconst size_t gv_web_page_len = ${pagelen};\n")

string(APPEND body "\nstruct gv_web_asset {\n  const char *name, *hashed;\n  const unsigned char *data;\n  size_t len;\n")
string(APPEND body "  const unsigned char *gz;\n  size_t gzlen;\n  const char *etag;\n};\n")
string(APPEND body "const struct gv_web_asset gv_web_assets[] = {\n${table}  {NULL, NULL, NULL, 0, NULL, 0, NULL}};\n")
file(WRITE ${OUT}.tmp "${body}")
file(REMOVE_RECURSE ${work})
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
# The output is newer than its inputs even when unchanged, so the step does not run again.
file(TOUCH_NOCREATE ${OUT})
