# Turns src/web/index.html into a C++ translation unit (web_assets.cpp)
# defining qc::web::index_html, so the binary serves the page with no files.
file(READ ${IN} content HEX)
string(LENGTH "${content}" hexlen)
math(EXPR n "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE ${OUT} "// Generated from src/web/index.html by cmake/embed.cmake. Do not edit.\n#include <string_view>\nnamespace qc::web {\nstatic const unsigned char data[] = {${bytes} 0};\nextern const std::string_view index_html;\nconst std::string_view index_html(reinterpret_cast<const char*>(data), ${n});\n}\n")
