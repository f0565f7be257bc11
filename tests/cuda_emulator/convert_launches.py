#!/usr/bin/env python3
"""Rewrites the kernel launches of a .cu file into host C++ for the CUDA emulator.

    kernel<T><<<grid, block[, smem[, stream]]>>>(args)
becomes
    emu_launch("kernel<T>", dim3(grid), dim3(block), smem, stream,
               [](auto... emu_a) { kernel<T>(emu_a...); }, args)

(see include/cuda_runtime.h). Line numbers are kept, so compiler messages point at the .cu file.
Usage: convert_launches.py FILE.cu > FILE.cpp
"""
import sys

OPEN = '([{'
CLOSE = ')]}'


def skip_space_back(src, j):
    while src[j - 1].isspace():
        j -= 1
    return j


def kernel_name_start(src, launch):
    """Start of the kernel expression before '<<<' at `launch`: a (qualified) name with template arguments."""
    j = skip_space_back(src, launch)
    if src[j - 1] == '>':  # template arguments: walk back to the matching '<'
        depth, k = 0, j - 1
        while True:
            if src[k] == '>':
                depth += 1
            elif src[k] == '<':
                depth -= 1
                if depth == 0:
                    break
            k -= 1
        j = skip_space_back(src, k)
    while src[j - 1].isalnum() or src[j - 1] in '_:':
        j -= 1
    return j


def split_top_level(text):
    """Splits on commas outside brackets."""
    parts, depth, current = [], 0, ''
    for ch in text:
        if ch in OPEN:
            depth += 1
        elif ch in CLOSE:
            depth -= 1
        if ch == ',' and depth == 0:
            parts.append(current.strip())
            current = ''
        else:
            current += ch
    parts.append(current.strip())
    return parts


def matching_paren(src, open_at):
    depth = 0
    for q in range(open_at, len(src)):
        if src[q] == '(':
            depth += 1
        elif src[q] == ')':
            depth -= 1
            if depth == 0:
                return q
    raise ValueError('unbalanced parentheses after a launch at offset %d' % open_at)


def convert(src):
    out, pos, launches = [], 0, 0
    while True:
        launch = src.find('<<<', pos)
        if launch < 0:
            out.append(src[pos:])
            return ''.join(out), launches
        start = kernel_name_start(src, launch)
        kernel = ' '.join(src[start:launch].split())
        config_end = src.find('>>>', launch)
        config = split_top_level(src[launch + 3:config_end])
        config += ['0'] * (4 - len(config))  # default shared memory and stream
        open_paren = config_end + 3
        while src[open_paren].isspace():
            open_paren += 1
        if src[open_paren] != '(':
            raise ValueError('no argument list after the launch of %s' % kernel)
        close_paren = matching_paren(src, open_paren)
        args = src[open_paren + 1:close_paren].strip()
        grid, block, smem, stream = config
        call = 'emu_launch("%s", dim3(%s), dim3(%s), %s, %s, [](auto... emu_a) { %s(emu_a...); }%s)' % (
            kernel.replace('"', ''), grid, block, smem, stream, kernel, ', ' + args if args else '')
        dropped_lines = src.count('\n', start, close_paren + 1) - call.count('\n')
        out.append(src[pos:start])
        out.append(call + '\n' * dropped_lines)
        launches += 1
        pos = close_paren + 1


def main():
    path = sys.argv[1]
    with open(path) as f:
        converted, _ = convert(f.read())
    sys.stdout.write('#line 1 "%s"\n' % path)
    sys.stdout.write(converted)


if __name__ == '__main__':
    main()
