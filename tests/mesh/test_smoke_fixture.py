from mesh import EventPublisher, EventReader, MeshConnection
from schemas import VideoStatusEventDTO, new_video_id


async def test_publish_and_read_back(mesh: MeshConnection) -> None:
    vid = new_video_id()
    pub = EventPublisher(mesh)
    result = await pub.publish(
        VideoStatusEventDTO(video_id=vid, status="QUEUED", progress=0),
        channel_id="default",
        msg_id=f"{vid}:q",
    )
    latest = await EventReader(mesh).latest([vid])
    assert [e.seq for e in latest] == [result.seq]
