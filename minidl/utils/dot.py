"""Draw the graph behind a result as Graphviz DOT text."""


def to_dot(output, path=None):
    """DOT text of the graph that computed `output` (a Tensor).

    Ops are boxes labelled with their name and output shapes; leaves are
    ellipses with their shapes. Render with ``dot -Tpng graph.dot``.
    If `path` is given the text is also written there. Draw the graph
    before ``backward()``: unless ``retain_graph=True``, backward cuts the
    links between ops to free memory.
    """
    lines = ["digraph minidl {", '  rankdir="BT";',
             '  node [fontname="Helvetica"];']
    names = {}

    def node_name(thing, label, shape):
        key = id(thing)
        if key not in names:
            names[key] = "n{}".format(len(names))
            lines.append('  {} [label="{}", shape={}];'.format(
                names[key], label, shape))
        return names[key]

    result = node_name(output, "output {}".format(output.shape), "doubleoctagon")
    if output.grad_fn is None:
        return _finish(lines, path)
    stack = [output.grad_fn]
    lines.append("  {} -> {};".format(
        node_name(output.grad_fn, _fn_label(output.grad_fn), "box"), result))
    seen = set()
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        this = node_name(fn, _fn_label(fn), "box")
        for edge in fn.edges:
            if edge is None:
                continue
            if edge.leaf is not None:
                parent = node_name(edge.leaf, "leaf {}".format(edge.leaf.shape),
                                   "ellipse")
            else:
                parent = node_name(edge.function, _fn_label(edge.function), "box")
                stack.append(edge.function)
            lines.append("  {} -> {};".format(parent, this))
    return _finish(lines, path)


def _fn_label(fn):
    shapes = ", ".join(str(tuple(meta[0])) for meta in fn.output_meta)
    return "{}\\n{}".format(fn.name, shapes)


def _finish(lines, path):
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if path is not None:
        with open(path, "w") as handle:
            handle.write(text)
    return text
