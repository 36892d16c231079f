# Turns a file into a C array (the web page of `zen serve` is compiled into the binary):
#   cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed_file.cmake
# defines  const char NAME[] (the bytes and a NUL)  and  const unsigned long NAME_len.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR len "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f])" "\\1\n" hex "${hex}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "/* generated from ${IN} by cmake/embed_file.cmake: do not edit */\n"
  "const char ${NAME}[] = {\n${body}0};\nconst unsigned long ${NAME}_len = ${len};\n")
