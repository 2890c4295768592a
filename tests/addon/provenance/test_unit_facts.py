from addon.provenance.unit_facts import describe, model_text


def test_anthropic_blocks() -> None:
    call = describe("messages", {"role": "assistant", "type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "a.py"}})
    assert (call.role, call.type, call.calls) == ("assistant", "tool_call", [("t1", "Read", {"file_path": "a.py"})])
    result = describe("messages", {"role": "user", "type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "x = 1"}]})
    assert (result.role, result.type, result.answers, result.text) == ("tool", "tool_result", [("t1", "")], "x = 1")
    image = describe("messages", {"role": "user", "type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}})
    assert (image.type, image.text) == ("image", "")
    thinking = describe("messages", {"role": "assistant", "type": "thinking", "thinking": "hmm", "signature": "sig"})
    assert (thinking.type, thinking.text) == ("thinking", "hmm")


def test_openai_chat_and_responses_items() -> None:
    chat_call = describe("messages", {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "shell", "arguments": '{"command": "ls"}'}}]})
    assert chat_call.calls == [("c1", "shell", {"command": "ls"})] and chat_call.type == "tool_call"
    chat_result = describe("messages", {"role": "tool", "tool_call_id": "c1", "content": "a\nb"})
    assert (chat_result.role, chat_result.answers) == ("tool", [("c1", "")])
    item = describe("input", {"type": "function_call", "call_id": "r1", "name": "shell", "arguments": '{"command": ["ls"]}'})
    assert item.calls == [("r1", "shell", {"command": ["ls"]})] and item.role == "assistant"
    output = describe("input", {"type": "function_call_output", "call_id": "r1", "output": "files"})
    assert (output.role, output.type, output.answers, output.text) == ("tool", "tool_result", [("r1", "")], "files")
    reasoning = describe("input", {"type": "reasoning", "encrypted_content": "opaque", "summary": []})
    assert (reasoning.role, reasoning.type, reasoning.text) == ("assistant", "thinking", "")


def test_gemini_contents_and_the_front() -> None:
    call = describe("contents", {"role": "model", "parts": [{"functionCall": {"name": "read_file", "args": {"file_path": "a"}}}]})
    assert call.calls == [("read_file", "read_file", {"file_path": "a"})] and call.role == "assistant"
    answer = describe("contents", {"role": "user", "parts": [{"functionResponse": {"name": "read_file", "response": {"output": "x"}}}]})
    assert (answer.role, answer.answers) == ("tool", [("read_file", "read_file")])
    tools = describe("tools", {"functionDeclarations": [{"name": "a"}, {"name": "b"}]})
    assert (tools.role, tools.name) == ("tools", "a, b")
    assert describe("system", "be brief").role == "system"


def test_model_text_leaves_out_ids_and_binary() -> None:
    assert model_text({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}) == ""
    assert model_text({"id": "x", "text": "hello", "n": 3}) == "hello\n3"
