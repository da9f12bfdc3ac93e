"""Executes a notebook with nbclient against the tapegrad kernel and checks docs/notebooks/tour.ipynb's
results: the gradient values, the deliberate shape error as a tg::Error output, that the cells
after it ran, and that the inline images decode as PNGs of the expected size.

Usage: notebook_check.py NOTEBOOK [EXECUTED_OUT]   (JUPYTER_PATH must lead to the kernelspec)
"""
import base64
import io
import sys
import time

import nbformat
from nbclient import NotebookClient
from PIL import Image

failures = []


def check(label, ok, detail=""):
    print(("ok: " if ok else "FAIL: ") + label + ("" if ok else ": " + detail))
    if not ok:
        failures.append(label)


def outputs_of(nb, marker):
    """The outputs of the one code cell whose source contains `marker`."""
    cells = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
    if len(cells) != 1:
        raise SystemExit(f"FAIL: {len(cells)} cells contain {marker!r}")
    return cells[0].outputs


def texts(outputs):
    out = []
    for o in outputs:
        if o.output_type == "stream":
            out.append(o.text)
        elif "data" in o and "text/plain" in o.data:
            out.append(o.data["text/plain"])
    return "\n".join(out)


nb = nbformat.read(sys.argv[1], as_version=4)
start = time.time()
# The deliberate error cell is tagged "raises-exception"; an error elsewhere stops the run.
NotebookClient(nb, kernel_name="tapegrad", timeout=240).execute()
print(f"executed {sum(c.cell_type == 'code' for c in nb.cells)} code cells in {time.time() - start:.1f} s")
if len(sys.argv) > 2:
    nbformat.write(nb, sys.argv[2])

errors = [(c.source.splitlines()[0], o) for c in nb.cells if c.cell_type == "code"
          for o in c.outputs if o.output_type == "error"]
check("exactly one cell failed (the deliberate one)", len(errors) == 1,
      "; ".join(f"{src}: {o.ename}: {o.evalue}" for src, o in errors))

broadcast = texts(outputs_of(nb, "show(a + b)"))
check("broadcast (1,3) + (2,1)", "[[11, 12, 13],\n [21, 22, 23]]" in broadcast, broadcast)

grads = [o.data["text/plain"] for o in outputs_of(nb, "dy/dx = 2x") if o.output_type == "display_data"]
check("dy/dx = 2x", len(grads) == 2 and grads[0].startswith("[2, 4, 6]\n"), str(grads))
check("stop_gradient: dz/dx = x", len(grads) == 2 and grads[1].startswith("[1, 2, 3]\n"), str(grads))
check("gradients as HTML tables", all("text/html" in o.data and "<table" in o.data["text/html"]
                                      for o in outputs_of(nb, "dy/dx = 2x") if o.output_type == "display_data"))

variables = texts(outputs_of(nb, "show(tg::global_variables())"))
check("one kernel and one bias under test/dense", "test/dense/kernel" in variables and "test/dense/bias" in variables
      and variables.count("test/dense/") == 2, variables)
check("reused scope gives the same output", "same output: true" in variables, variables)

gru = texts(outputs_of(nb, "tg::nn::GRU gru"))
check("GRU output (32, 50, 20) and h_n (1, 32, 20)", "[32, 50, 20]" in gru and "[1, 32, 20]" in gru, gru)

error = outputs_of(nb, "tg::randn({5, 700})")
check("the shape error is a tg::Error output",
      len(error) >= 1 and error[-1].output_type == "error" and error[-1].ename == "tg::Error"
      and "[5, 700]" in error[-1].evalue and "784" in error[-1].evalue,
      str([dict(o) for o in error]))

after = texts(outputs_of(nb, "tg::randn({5, 784})"))
check("the cell after the error ran, with the model intact", "[5, 10]" in after and "Sequential(" in after, after)
loss = [float(line.split(":")[1]) for line in after.splitlines() if line.startswith("final training loss:")]
check("training lowered the loss below 0.7 (chance is ln 10 = 2.3)", len(loss) == 1 and loss[0] < 0.7, str(loss))


def png_of(marker):
    images = [o for o in outputs_of(nb, marker) if o.output_type == "display_data" and "image/png" in o.data]
    if len(images) != 1:
        return None
    image = Image.open(io.BytesIO(base64.b64decode(images[0].data["image/png"])))
    image.load()  # decodes every pixel: a truncated or corrupt PNG raises here
    return image


grid = png_of("show_images(")
check("image grid: a 466x118 grayscale PNG (16 images, 8 a row, 2x)",
      grid is not None and grid.format == "PNG" and grid.size == (466, 118) and grid.mode == "L",
      "none" if grid is None else f"{grid.format} {grid.size} {grid.mode}")
if grid is not None:
    check("image grid is not blank", grid.getextrema()[0] < 50 and grid.getextrema()[1] > 200, str(grid.getextrema()))
chart = png_of("plot({{")
check("loss curve: a 640x360 PNG", chart is not None and chart.format == "PNG" and chart.size == (640, 360),
      "none" if chart is None else f"{chart.format} {chart.size}")
if chart is not None:
    colors = chart.convert("RGB").getcolors(1 << 20) or []
    check("loss curve has drawn lines (several colours)", len(colors) > 10, f"{len(colors)} colours")



def interrupt_check():
    """Ctrl-C in the notebook (interrupt_request: SIGINT, the kernelspec's interrupt_mode) stops an
    endless cell at its next op, and a cell that writes through a null pointer fails with SIGSEGV;
    the kernel lives on with the earlier definitions."""
    from jupyter_client.manager import start_new_kernel
    km, kc = start_new_kernel(kernel_name="tapegrad", startup_timeout=120)
    try:
        def run(code, on_output, timeout):
            return kc.execute_interactive(code, timeout=timeout, output_hook=on_output)

        setup = run("auto a = tg::tensor({1.0, 2.0}).requires_grad_(); long steps = 0;", lambda m: None, 120)
        check("kernel: setup cell", setup["content"]["status"] == "ok", str(setup["content"]))
        msg_id = kc.execute('std::cout << "looping" << std::endl; for (;;) { auto t = a * 2; ++steps; }')
        deadline = time.time() + 120
        while time.time() < deadline:  # until the cell is running: its first line arrived
            m = kc.get_iopub_msg(timeout=120)
            if m["msg_type"] == "stream" and "looping" in m["content"]["text"]:
                break
        time.sleep(0.5)
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=60)
        content = reply["content"]
        check("kernel: Ctrl-C ends the endless cell with tg::Interrupted",
              content["status"] == "error" and content.get("ename") == "tg::Interrupted", str(content))
        seen = []
        after = run('std::cout << (steps > 0) << " " << tg::autograd::grad({(a * a).sum()}, {a})[0] << std::endl;',
                    lambda m: seen.append(m["content"].get("text", "")) if m["msg_type"] == "stream" else None, 120)
        crash = run("int* nowhere = nullptr; *nowhere = 1;", lambda m: None, 120)["content"]
        check("kernel: a null pointer write becomes the cell's SIGSEGV error",
              crash["status"] == "error" and crash.get("ename") == "SIGSEGV", str(crash))
        check("kernel: the next cell runs with the earlier tensors",
              after["content"]["status"] == "ok" and "1 [2, 4]" in "".join(seen), "".join(seen))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


interrupt_check()
print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
