# Turns a page of src/web (IN) into a C++ translation unit (OUT) defining
# qc::web::NAME (default index_html), so the binary serves it with no files.
if(NOT NAME)
  set(NAME index_html)
endif()
file(READ ${IN} content HEX)
string(LENGTH "${content}" hexlen)
math(EXPR n "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
get_filename_component(src ${IN} NAME)
file(WRITE ${OUT} "// Generated from src/web/${src} by cmake/embed.cmake. Do not edit.\n#include <string_view>\nnamespace qc::web {\nstatic const unsigned char ${NAME}_data[] = {${bytes} 0};\nextern const std::string_view ${NAME};\nconst std::string_view ${NAME}(reinterpret_cast<const char*>(${NAME}_data), ${n});\n}\n")
