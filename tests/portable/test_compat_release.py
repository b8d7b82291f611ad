# uedge.compat.release: a board unloads a module it needs only now and then
# (data_out handling, provisioning, the config validators); a gateway keeps it.
import sys

from uedge.compat import MICROPYTHON, release


def test_release_unloads_on_micropython_and_the_next_import_loads_again():
    import uedge.transport.mqtt_content as first
    import uedge.transport

    assert "uedge.transport.mqtt_content" in sys.modules
    release("uedge.transport.mqtt_content")
    if MICROPYTHON:
        assert "uedge.transport.mqtt_content" not in sys.modules
        assert "mqtt_content" not in uedge.transport.__dict__
    else:
        assert sys.modules["uedge.transport.mqtt_content"] is first
    import uedge.transport.mqtt_content as again

    assert again.content_list.__name__ == "content_list"
    assert (again is first) is not MICROPYTHON


def test_release_of_a_module_not_loaded_is_harmless():
    release("uedge.no_such_module")
    release("uedge.transport.mqtt_provision")
    release("uedge.transport.mqtt_provision")
    assert "uedge.no_such_module" not in sys.modules
